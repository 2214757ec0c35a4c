// An error whose message is meant for the person at the docker CLI: it is sent back verbatim as
// the driver's {"Err": ...}. Anything else thrown by a handler is a bug and is reported as such.
export class DriverError extends Error {
  override readonly name = 'DriverError';
}
