import type { Config } from "../env";
import type { RunStatus } from "../offboarding/types";
import type { DestinationKind } from "./types";

/** A configured destination: its label (shown, stored, queued) and its URL (a credential: used only to POST). */
export interface Destination {
  label: string;
  kind: DestinationKind;
  url: string;
}

type DestinationConfig = Pick<
  Config,
  "OUTBOUND_WEBHOOK_URLS" | "NOTIFY_SLACK_WEBHOOK_URLS" | "NOTIFY_TEAMS_WEBHOOK_URLS" | "NOTIFY_ON"
>;

const listOf = (config: DestinationConfig, kind: DestinationKind): string[] =>
  kind === "outbound"
    ? config.OUTBOUND_WEBHOOK_URLS
    : kind === "slack"
      ? config.NOTIFY_SLACK_WEBHOOK_URLS
      : config.NOTIFY_TEAMS_WEBHOOK_URLS;

const labelled = (config: DestinationConfig, kind: DestinationKind): Destination[] =>
  listOf(config, kind).map((url, i) => ({ label: `${kind}#${i + 1}`, kind, url }));

/** Whether anything at all is configured (publishing returns at once otherwise). */
export function anyDestination(config: DestinationConfig): boolean {
  return (
    config.OUTBOUND_WEBHOOK_URLS.length +
      config.NOTIFY_SLACK_WEBHOOK_URLS.length +
      config.NOTIFY_TEAMS_WEBHOOK_URLS.length >
    0
  );
}

/** Who hears about a run in `status`: every outbound receiver; the channels only for a status in NOTIFY_ON. */
export function destinationsFor(config: DestinationConfig, status: RunStatus): Destination[] {
  const notify = config.NOTIFY_ON.includes(status);
  return [
    ...labelled(config, "outbound"),
    ...(notify ? [...labelled(config, "slack"), ...labelled(config, "teams")] : []),
  ];
}

/** The destination a label names in the current config; undefined once it was removed from the list. */
export function destinationOf(config: DestinationConfig, label: string): Destination | undefined {
  const match = /^(outbound|slack|teams)#([1-9]\d{0,3})$/.exec(label);
  if (!match) return undefined;
  const kind = match[1] as DestinationKind;
  const url = listOf(config, kind)[Number(match[2]) - 1];
  return url ? { label, kind, url } : undefined;
}
