// Original file: ../../protos/session/v1/session.proto


export interface ListRequest {
  'user_id'?: (string);
}

export interface ListRequest__Output {
  'user_id': (string);
}
