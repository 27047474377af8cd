/**
 * @fastnet/jitter: an adaptive jitter buffer for voice and streamed state.
 * `jitter()` is the plugin (message layer); `JitterBuffer` is the sans-IO
 * buffer itself, for applications that timestamp and feed frames themselves.
 */
export { jitter, JITTER_HEADER, TIMESTAMP_UNIT_MS, type JitterOptions, type JitterPlugin } from "./jitter.ts";
export {
  JitterBuffer, PushResult, type JitterBufferOptions, type JitterStats, type PlayoutEvent, type ResolvedJitterBufferOptions,
} from "./buffer.ts";
