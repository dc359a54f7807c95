/** The local SNS topic: what the stack would publish (NotifyFailure state, drift check) is recorded as alerts. */
import { randomUUID } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import type { SNSClient } from '@aws-sdk/client-sns';

/** An SNS publish (NotifyFailure state, drift check, ...), recorded instead of sent. */
export interface LocalAlert {
  time: string;
  topicArn: string;
  subject?: string;
  message: unknown;
}

/** Where SNS publishes go locally: recorded in memory and in logs/alerts.log. */
export class AlertRecorder {
  readonly alerts: LocalAlert[] = [];

  constructor(private readonly file: string) {}

  record(p: { TopicArn?: unknown; Subject?: unknown; Message?: unknown }): { MessageId: string } {
    const alert: LocalAlert = {
      time: new Date().toISOString(),
      topicArn: String(p.TopicArn ?? ''),
      subject: typeof p.Subject === 'string' ? p.Subject : undefined,
      message: p.Message,
    };
    this.alerts.push(alert);
    appendFileSync(this.file, `${JSON.stringify(alert)}\n`, { mode: 0o600 });
    return { MessageId: randomUUID() };
  }

  /** An SNS client whose publishes are recorded (the drift check publishes with one). */
  snsClient(): SNSClient {
    return {
      send: async (command: { input?: Record<string, unknown> }) => this.record(command.input ?? {}),
      destroy: () => undefined,
    } as unknown as SNSClient;
  }
}
