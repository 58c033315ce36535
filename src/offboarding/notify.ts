/** Only Slack's own response URLs are ever posted to (a request cannot make the Worker call elsewhere). */
export function isSlackResponseUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === "https:" && url.hostname === "hooks.slack.com" && url.port === "";
  } catch {
    return false;
  }
}

/**
 * Posts a run's result to the chat that started it (Slack `response_url`: at most 5 posts in 30 minutes).
 * Best effort: the run is finished and audited whatever happens here; returns whether Slack took it.
 */
export async function postToChat(url: string, text: string, timeoutMs = 5_000): Promise<boolean> {
  if (!isSlackResponseUrl(url)) return false;
  try {
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ response_type: "ephemeral", replace_original: false, text }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    await res.body?.cancel();
    return res.ok;
  } catch {
    return false;
  }
}
