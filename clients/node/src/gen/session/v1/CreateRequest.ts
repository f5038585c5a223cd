// Original file: ../../protos/session/v1/session.proto

import type { ClientInfo as _session_v1_ClientInfo, ClientInfo__Output as _session_v1_ClientInfo__Output } from '../../session/v1/ClientInfo';
import type { DpopProof as _session_v1_DpopProof, DpopProof__Output as _session_v1_DpopProof__Output } from '../../session/v1/DpopProof';
import type { Timestamp as _google_protobuf_Timestamp, Timestamp__Output as _google_protobuf_Timestamp__Output } from '../../google/protobuf/Timestamp';
import type { IdpSession as _session_v1_IdpSession, IdpSession__Output as _session_v1_IdpSession__Output } from '../../session/v1/IdpSession';

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
  /**
   * Set to open an impersonation session: the operator's identity (the tokens carry
   * act: {"sub": impersonator}); only callers the policy allows to impersonate.
   */
  'impersonator'?: (string);
  /**
   * How the user authenticated (acr), with which methods (amr, RFC 8176 values), and
   * when (auth_time; unset means now).
   */
  'acr'?: (string);
  'amr'?: (string)[];
  'auth_time'?: (_google_protobuf_Timestamp | null);
  /**
   * The identity provider's session the login came from (single sign-on).
   */
  'idp'?: (_session_v1_IdpSession | null);
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
  /**
   * Set to open an impersonation session: the operator's identity (the tokens carry
   * act: {"sub": impersonator}); only callers the policy allows to impersonate.
   */
  'impersonator': (string);
  /**
   * How the user authenticated (acr), with which methods (amr, RFC 8176 values), and
   * when (auth_time; unset means now).
   */
  'acr': (string);
  'amr': (string)[];
  'auth_time': (_google_protobuf_Timestamp__Output | null);
  /**
   * The identity provider's session the login came from (single sign-on).
   */
  'idp': (_session_v1_IdpSession__Output | null);
}
