// Original file: ../../protos/session/v1/session.proto

import type { Session as _session_v1_Session, Session__Output as _session_v1_Session__Output } from '../../session/v1/Session';

export interface GetResponse {
  'session'?: (_session_v1_Session | null);
}

export interface GetResponse__Output {
  'session': (_session_v1_Session__Output | null);
}
