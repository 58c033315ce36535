/** @jsxImportSource hono/jsx */
import type { Context } from "hono";
import type { AppEnv } from "../env";
import { answerFor } from "../errors";
import { FieldErrorList, Layout } from "./layout";

/**
 * The console's error handler: the same classification as the API (answerFor: a known error's safe
 * message, anything else an opaque 500 whose details go to the log only), rendered as a page with the
 * request id to quote. Never a stack trace.
 */
export function renderError(err: unknown, c: Context<AppEnv>) {
  const id = c.var.requestId ?? "unknown";
  const answer = answerFor(err, id);
  const principal = c.get("principal");
  const title =
    answer.status === 401
      ? "Sign-in required"
      : answer.status === 403
        ? "Not allowed"
        : answer.status === 404
          ? "Not found"
          : answer.status >= 500
            ? "Something went wrong"
            : "That did not work";
  c.header("cache-control", "no-store");
  return c.html(
    <Layout title={title} principal={principal} requestId={id}>
      <div class="notice bad" role="alert" data-error-code={answer.code}>
        <p>{answer.message}</p>
        {answer.details && answer.details.length > 0 ? <FieldErrorList errors={answer.details} /> : null}
      </div>
      <p>
        Quote request id <code>{id}</code> when you report this.{" "}
        {principal ? <a href="/console">Back to the overview</a> : null}
      </p>
    </Layout>,
    answer.status,
  );
}
