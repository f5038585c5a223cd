// Original file: ../../protos/session/v1/session.proto

import type { DpopProof as _session_v1_DpopProof, DpopProof__Output as _session_v1_DpopProof__Output } from '../../session/v1/DpopProof';
import type { ClientInfo as _session_v1_ClientInfo, ClientInfo__Output as _session_v1_ClientInfo__Output } from '../../session/v1/ClientInfo';

export interface RefreshRequest {
  'refresh_token'?: (string);
  /**
   * Required when the session is DPoP-bound: a proof by the session's key.
   */
  'dpop'?: (_session_v1_DpopProof | null);
  /**
   * The client refreshing, as the login service sees it (last IP, user agent, device).
   */
  'client'?: (_session_v1_ClientInfo | null);
}

export interface RefreshRequest__Output {
  'refresh_token': (string);
  /**
   * Required when the session is DPoP-bound: a proof by the session's key.
   */
  'dpop': (_session_v1_DpopProof__Output | null);
  /**
   * The client refreshing, as the login service sees it (last IP, user agent, device).
   */
  'client': (_session_v1_ClientInfo__Output | null);
}
