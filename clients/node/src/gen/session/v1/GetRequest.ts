// Original file: ../../protos/session/v1/session.proto


export interface GetRequest {
  'session_id'?: (string);
}

export interface GetRequest__Output {
  'session_id': (string);
}
