// Original file: ../../protos/session/v1/session.proto

import type { Timestamp as _google_protobuf_Timestamp, Timestamp__Output as _google_protobuf_Timestamp__Output } from '../../google/protobuf/Timestamp';

export interface ExchangeResponse {
  'access_token'?: (string);
  'expires_at'?: (_google_protobuf_Timestamp | null);
  'audience'?: (string);
  'scopes'?: (string)[];
  /**
   * urn:ietf:params:oauth:token-type:access_token
   */
  'issued_token_type'?: (string);
}

export interface ExchangeResponse__Output {
  'access_token': (string);
  'expires_at': (_google_protobuf_Timestamp__Output | null);
  'audience': (string);
  'scopes': (string)[];
  /**
   * urn:ietf:params:oauth:token-type:access_token
   */
  'issued_token_type': (string);
}
