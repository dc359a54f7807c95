/**
 * The environment the bench was started with, captured before any other bench module loads: some libraries
 * set variables when imported (Powertools sets the SDK's AWS_SDK_UA_APP_ID), and `npm test` must run as a
 * user runs it, not with what the bench's imports added. bench/run.ts imports this first.
 */
export const START_ENV: Readonly<NodeJS.ProcessEnv> = { ...process.env };
