import { tracing } from "cloudflare:workers";

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
 * Whether this invocation is being traced. Workers tracing records every outbound fetch's full URL as the
 * span attribute `url.full` (no per-request redaction; `observability.redact_query_string` strips only
 * query strings), and a Slack response_url carries its credential in the path.
 */
export function invocationIsTraced(): boolean {
  return tracing?.getActiveSpan?.()?.isTraced ?? false;
}

export interface PostOptions {
  timeoutMs?: number;
  /** Whether the post would be traced (default: this invocation's sampling decision). */
  traced?: boolean;
  /** Replace the message the response_url belongs to (a decision in place of its buttons). */
  replaceOriginal?: boolean;
  /** Block Kit blocks shown with the text (the text stays the notification's fallback). */
  blocks?: unknown[];
}

/**
 * Posts a run's result to the chat that started it (Slack `response_url`: at most 5 posts in 30 minutes).
 * Best effort: the run is finished and audited whatever happens here; returns whether Slack took it.
 * Never from a traced invocation: the trace would keep the response_url, a credential that lets whoever
 * reads traces post into the operator's conversation as the app for 30 minutes. Traces are off in
 * wrangler.toml; an operator who turns them on reads results with `status` instead (docs/operations.md).
 */
export async function postToChat(url: string, text: string, options: PostOptions = {}): Promise<boolean> {
  if (!isSlackResponseUrl(url)) return false;
  if (options.traced ?? invocationIsTraced()) {
    console.warn(
      JSON.stringify({
        level: "warn",
        msg: "run result not posted to Slack: this invocation is traced, and a trace would record the response_url",
      }),
    );
    return false;
  }
  try {
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        response_type: "ephemeral",
        replace_original: options.replaceOriginal ?? false,
        text,
        ...(options.blocks ? { blocks: options.blocks } : {}),
      }),
      signal: AbortSignal.timeout(options.timeoutMs ?? 5_000),
    });
    await res.body?.cancel();
    return res.ok;
  } catch {
    return false;
  }
}
