// log_all: one message per log level, so a test can check level filtering and routing.
import { Host, LogLevel, Memory } from "@extism/as-pdk";

// The PDK (1.0.0) has no trace level, though every host provides log_trace.
@external("extism:host/env", "log_trace")
declare function log_trace(message: u64): void;

export function log_all(): i32 {
  const input = Host.inputString();
  // Most to least verbose, so a logger that drops levels shows a clean cut.
  log_trace(Memory.allocateString("trace: " + input).offset);
  Host.log(LogLevel.Debug, "debug: " + input);
  Host.log(LogLevel.Info, "info: " + input);
  Host.log(LogLevel.Warn, "warn: " + input);
  Host.log(LogLevel.Error, "error: " + input);
  Host.output(Uint8Array.wrap(String.UTF8.encode("logged")));
  return 0;
}
