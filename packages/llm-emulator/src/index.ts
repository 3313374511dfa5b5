export { createLlmEmulator } from './emulator.js';
export type { LlmEmulator, LlmEmulatorOptions } from './emulator.js';
export type { ReceivedRequest } from './received-request.js';
export { DEFAULT_USAGE, parseUsage } from './usage.js';
export type { Usage } from './usage.js';
export { CONTROL_HEADERS, DEFAULT_CONTROLS, DEFAULT_EVENTS, MAX_EVENTS, parseControls } from './controls.js';
export type { Controls } from './controls.js';
export {
  DEFAULT_TEXT,
  REASONING_SUMMARY,
  THINKING_SIGNATURE,
  THINKING_TEXT,
  TOOL_CALL_ARGUMENTS,
  TOOL_CALL_INPUT,
  emulatorText,
  textDeltas,
} from './scenario.js';
export { ANTHROPIC_MODELS, OPENAI_MODELS } from './models.js';
export { emulatedErrorMessage } from './errors.js';
