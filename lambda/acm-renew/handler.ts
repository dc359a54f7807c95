// Placeholder entry point; the handler's behaviour is built over lambda/shared/.
export const handler = async (): Promise<never> => {
  throw new Error('acm-renew: not implemented yet');
};
