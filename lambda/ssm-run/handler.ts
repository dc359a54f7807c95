// Placeholder entry point; the handler's behaviour is built over lambda/shared/.
export const handler = async (): Promise<never> => {
  throw new Error('ssm-run: not implemented yet');
};
