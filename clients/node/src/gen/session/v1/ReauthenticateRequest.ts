// Original file: ../../protos/session/v1/session.proto

import type { Timestamp as _google_protobuf_Timestamp, Timestamp__Output as _google_protobuf_Timestamp__Output } from '../../google/protobuf/Timestamp';
import type { DpopProof as _session_v1_DpopProof, DpopProof__Output as _session_v1_DpopProof__Output } from '../../session/v1/DpopProof';

export interface ReauthenticateRequest {
  'session_id'?: (string);
  'acr'?: (string);
  'amr'?: (string)[];
  /**
   * When the user authenticated again; unset means now.
   */
  'auth_time'?: (_google_protobuf_Timestamp | null);
  /**
   * Required when the session is DPoP-bound: a proof by the session's key.
   */
  'dpop'?: (_session_v1_DpopProof | null);
}

export interface ReauthenticateRequest__Output {
  'session_id': (string);
  'acr': (string);
  'amr': (string)[];
  /**
   * When the user authenticated again; unset means now.
   */
  'auth_time': (_google_protobuf_Timestamp__Output | null);
  /**
   * Required when the session is DPoP-bound: a proof by the session's key.
   */
  'dpop': (_session_v1_DpopProof__Output | null);
}
