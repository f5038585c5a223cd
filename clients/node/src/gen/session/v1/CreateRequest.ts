// Original file: ../../protos/session/v1/session.proto

import type { ClientInfo as _session_v1_ClientInfo, ClientInfo__Output as _session_v1_ClientInfo__Output } from '../../session/v1/ClientInfo';
import type { DpopProof as _session_v1_DpopProof, DpopProof__Output as _session_v1_DpopProof__Output } from '../../session/v1/DpopProof';

export interface CreateRequest {
  'user_id'?: (string);
  'claims'?: ({[key: string]: string});
  'data'?: ({[key: string]: Buffer | Uint8Array | string});
  'scopes'?: (string)[];
  'client'?: (_session_v1_ClientInfo | null);
  'client_id'?: (string);
  /**
   * A DPoP proof: binds the session to the proof's key.
   */
  'dpop'?: (_session_v1_DpopProof | null);
}

export interface CreateRequest__Output {
  'user_id': (string);
  'claims': ({[key: string]: string});
  'data': ({[key: string]: Buffer});
  'scopes': (string)[];
  'client': (_session_v1_ClientInfo__Output | null);
  'client_id': (string);
  /**
   * A DPoP proof: binds the session to the proof's key.
   */
  'dpop': (_session_v1_DpopProof__Output | null);
}
