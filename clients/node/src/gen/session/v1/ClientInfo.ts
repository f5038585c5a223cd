// Original file: ../../protos/session/v1/session.proto


/**
 * ClientInfo describes the device a session was started from.
 */
export interface ClientInfo {
  'ip'?: (string);
  'user_agent'?: (string);
  'device'?: (string);
}

/**
 * ClientInfo describes the device a session was started from.
 */
export interface ClientInfo__Output {
  'ip': (string);
  'user_agent': (string);
  'device': (string);
}
