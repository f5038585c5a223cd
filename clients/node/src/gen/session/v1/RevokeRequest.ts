// Original file: ../../protos/session/v1/session.proto


export interface RevokeRequest {
  'session_id'?: (string);
  'refresh_token'?: (string);
  'access_token'?: (string);
  /**
   * All sessions of this user ("log out everywhere").
   */
  'user_id'?: (string);
  /**
   * With user_id: keep this session ("log out other devices").
   */
  'except_session_id'?: (string);
  'target'?: "session_id"|"refresh_token"|"access_token"|"user_id";
}

export interface RevokeRequest__Output {
  'session_id'?: (string);
  'refresh_token'?: (string);
  'access_token'?: (string);
  /**
   * All sessions of this user ("log out everywhere").
   */
  'user_id'?: (string);
  /**
   * With user_id: keep this session ("log out other devices").
   */
  'except_session_id': (string);
  'target'?: "session_id"|"refresh_token"|"access_token"|"user_id";
}
