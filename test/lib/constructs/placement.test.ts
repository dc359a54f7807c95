/**
 * The placement policy is a stack setting: context → the install document's script text (not a parameter),
 * the export-api and acm-renew functions' PLACEMENT_POLICY.
 */
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { CONTEXT, configureApp } from '../../../lib/app';
import { ENV } from '../../../lambda/shared/contract';
import { DEFAULT_PLACEMENT } from '../../../lambda/shared/placement';
import { buildStack } from '../fixture';

function documentText(template: Template): string {
  const document = Object.values(template.findResources('AWS::SSM::Document'))[0];
  return JSON.stringify(document.Properties.Content);
}

function placementVariables(template: Template): string[] {
  return Object.values(template.findResources('AWS::Lambda::Function'))
    .map((fn) => (fn.Properties.Environment?.Variables ?? {}) as Record<string, unknown>)
    .filter((vars) => ENV.PLACEMENT_POLICY in vars)
    .map((vars) => String(vars[ENV.PLACEMENT_POLICY]));
}

describe('placement policy', () => {
  test('the default policy is in the document text and in both functions that check requests', () => {
    const { template } = buildStack();
    const text = documentText(template);
    expect(text).toContain(
      "declare -ra ALLOWED_DIRS=('/etc/ssl' '/etc/pki' '/etc/nginx/ssl' '/etc/apache2/ssl' '/etc/httpd/ssl' '/etc/haproxy')",
    );
    expect(text).toContain(
      "declare -ra ALLOWED_KEY_ACCOUNTS=('root' 'ssl-cert' 'www-data' 'nginx' 'apache' 'haproxy')",
    );
    expect(placementVariables(template)).toEqual([
      JSON.stringify(DEFAULT_PLACEMENT),
      JSON.stringify(DEFAULT_PLACEMENT),
    ]);
  });

  test('context narrows it everywhere; no document parameter can set it', () => {
    const app = new App({
      builtinCloudFormationValidation: false,
      context: {
        'aws:cdk:bundling-stacks': [],
        [CONTEXT.allowedDirs]: '/etc/pki/tls, /etc/haproxy',
        [CONTEXT.keyAccounts]: ['root', 'haproxy'],
      },
    });
    const template = Template.fromStack(configureApp(app));
    const text = documentText(template);
    expect(text).toContain("declare -ra ALLOWED_DIRS=('/etc/pki/tls' '/etc/haproxy')");
    expect(text).toContain("declare -ra ALLOWED_KEY_ACCOUNTS=('root' 'haproxy')");
    expect(text).not.toContain("'/etc/ssl'");
    const policy = JSON.stringify({ allowedDirs: ['/etc/pki/tls', '/etc/haproxy'], keyAccounts: ['root', 'haproxy'] });
    expect(placementVariables(template)).toEqual([policy, policy]);
    const document = Object.values(template.findResources('AWS::SSM::Document'))[0];
    const parameters = Object.keys(document.Properties.Content.parameters as object);
    expect(parameters.filter((p) => /allow|placement|polic/i.test(p))).toEqual([]);
  });

  test.each([
    [{ [CONTEXT.allowedDirs]: '/etc' }, /allowedDirs\.0: is a system directory, a web root or too broad a parent/],
    [{ [CONTEXT.allowedDirs]: '/var/www/secure' }, /allowedDirs\.0: is a system directory/],
    [{ [CONTEXT.keyAccounts]: 'root,users x' }, /keyAccounts\.1: must be a POSIX user or group name/],
  ])('a widening or unsafe context fails the synth: %j', (context, message) => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [], ...context } });
    expect(() => configureApp(app)).toThrow(message);
  });
});
