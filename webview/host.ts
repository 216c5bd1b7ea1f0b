/** The webview's end of the channel to the extension host, over VS Code's webview API. */
import { isEnvelope, MessageEndpoint, type FromWebviewMessage, type ToWebviewMessage } from '../src/protocol/webview';

interface VsCodeApi {
  postMessage(message: unknown, transfer?: Transferable[]): void;
  getState(): unknown;
  setState(state: unknown): void;
}

declare function acquireVsCodeApi(): VsCodeApi;

/** Connects to the host; `handle` receives every message the host sends. */
export function connectToHost(handle: (message: ToWebviewMessage) => void): {
  endpoint: MessageEndpoint<FromWebviewMessage, ToWebviewMessage>;
  api: VsCodeApi;
} {
  const api = acquireVsCodeApi();
  const endpoint = new MessageEndpoint<FromWebviewMessage, ToWebviewMessage>(
    (envelope, transfer) => api.postMessage(envelope, transfer),
    (message) => {
      handle(message);
      return undefined;
    },
  );
  window.addEventListener('message', (event: MessageEvent) => {
    if (isEnvelope(event.data)) void endpoint.receive(event.data as Parameters<typeof endpoint.receive>[0]);
  });
  return { endpoint, api };
}
