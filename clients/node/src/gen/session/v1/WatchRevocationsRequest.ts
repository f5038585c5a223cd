// Original file: ../../protos/session/v1/session.proto


export interface WatchRevocationsRequest {
  /**
   * Resume after this point: the cursor of the last response received. Empty replays
   * every retained revocation (what a subscriber that starts from nothing needs).
   */
  'cursor'?: (string);
}

export interface WatchRevocationsRequest__Output {
  /**
   * Resume after this point: the cursor of the last response received. Empty replays
   * every retained revocation (what a subscriber that starts from nothing needs).
   */
  'cursor': (string);
}
