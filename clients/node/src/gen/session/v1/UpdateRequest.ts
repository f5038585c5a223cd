// Original file: ../../protos/session/v1/session.proto

import type { Long } from '@grpc/proto-loader';

export interface UpdateRequest {
  'session_id'?: (string);
  'set'?: ({[key: string]: Buffer | Uint8Array | string});
  'remove'?: (string)[];
  /**
   * When greater than 0, the update applies only if the session is at this version.
   */
  'expected_version'?: (number | string | Long);
}

export interface UpdateRequest__Output {
  'session_id': (string);
  'set': ({[key: string]: Buffer});
  'remove': (string)[];
  /**
   * When greater than 0, the update applies only if the session is at this version.
   */
  'expected_version': (string);
}
