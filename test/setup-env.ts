// Tests run offline: keep the CDK and the AWS SDK from reaching out, and give the SDK a region and fake credentials.
process.env.CDK_DISABLE_VERSION_CHECK = 'true';
process.env.CDK_DISABLE_CLI_TELEMETRY = 'true';
process.env.AWS_REGION ??= 'us-east-1';
process.env.AWS_ACCESS_KEY_ID ??= 'AKIDTESTONLY';
process.env.AWS_SECRET_ACCESS_KEY ??= 'test-secret-only';
process.env.AWS_EC2_METADATA_DISABLED = 'true';
// The SDK's one warning that Node 20 support ends (the project supports Node 20); other warnings still print.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
process.env.POWERTOOLS_DEV ??= 'false';
process.env.POWERTOOLS_METRICS_NAMESPACE ??= 'AcmExport';
process.env.POWERTOOLS_SERVICE_NAME ??= 'acm-export-test';
// Local-mode nodes run real nginx in tests, or fail at once when it is missing; a test that wants the built-in
// HTTPS server asks for it (server: 'builtin', nginx: 'never') rather than getting it silently.
process.env.ACM_EXPORT_LOCAL_NGINX = 'required';
// aws-local-stepfunctions 3.0.0 calls Promise.withResolvers (Node 22); Node 20 needs this shim.
import '../local/polyfills';
