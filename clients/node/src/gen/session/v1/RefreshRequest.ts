// Original file: ../../protos/session/v1/session.proto

import type { DpopProof as _session_v1_DpopProof, DpopProof__Output as _session_v1_DpopProof__Output } from '../../session/v1/DpopProof';

export interface RefreshRequest {
  'refresh_token'?: (string);
  /**
   * Required when the session is DPoP-bound: a proof by the session's key.
   */
  'dpop'?: (_session_v1_DpopProof | null);
}

export interface RefreshRequest__Output {
  'refresh_token': (string);
  /**
   * Required when the session is DPoP-bound: a proof by the session's key.
   */
  'dpop': (_session_v1_DpopProof__Output | null);
}
