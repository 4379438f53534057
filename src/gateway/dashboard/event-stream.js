// The swarm's events (GET /api/v1/events, Server-Sent Events) read with fetch() and a stream reader rather than
// EventSource, so that the request can carry the token. It reconnects with Last-Event-ID after a drop, waiting
// longer each time (up to 15 s), and stops for good on 401/403 (a new token starts a new stream).

const MAX_DELAY_MS = 15_000;

export function connectEvents({ url, headers, onEvent, onOpen, onDrop, onRefused }) {
  let lastId;
  let stopped = false;
  let controller;
  let delay = 500;

  const handleBlock = (block) => {
    let type = 'message';
    let id;
    const data = [];
    for (const line of block.split('\n')) {
      if (line === '' || line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'event') type = value;
      else if (field === 'id') id = value;
      else if (field === 'data') data.push(value);
    }
    if (id !== undefined) lastId = id;
    if (data.length === 0) return;
    let payload;
    try {
      payload = JSON.parse(data.join('\n'));
    } catch {
      payload = { raw: data.join('\n') };
    }
    onEvent(type, payload);
  };

  const run = async () => {
    while (!stopped) {
      controller = new AbortController();
      let reason = 'the stream ended';
      try {
        const requestHeaders = { ...headers(), accept: 'text/event-stream' };
        if (lastId !== undefined) requestHeaders['last-event-id'] = lastId;
        const response = await fetch(url, { headers: requestHeaders, signal: controller.signal, cache: 'no-store', credentials: 'omit' });
        if (response.status === 401 || response.status === 403) {
          onRefused(response.status);
          return;
        }
        if (!response.ok || response.body === null) {
          reason = `the gateway answered ${response.status}`;
          throw new Error(reason);
        }
        delay = 500;
        onOpen();
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value.replace(/\r\n?/g, '\n');
          let end;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            handleBlock(buffer.slice(0, end));
            buffer = buffer.slice(end + 2);
          }
        }
      } catch (error) {
        if (stopped) return;
        if (!(error instanceof Error && error.message === reason)) reason = 'the connection was lost';
      }
      if (stopped) return;
      onDrop(reason, delay);
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, MAX_DELAY_MS);
    }
  };
  void run();
  return {
    stop() {
      stopped = true;
      controller?.abort();
    },
  };
}
