/** Printed by the test module when it starts; the launcher prints the log from here on. */
export const TESTS_START_MARKER = '[unet3d-e2e] extension-host tests start';
