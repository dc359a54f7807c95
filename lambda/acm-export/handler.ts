// Placeholder entry point; the handler's behaviour is built over lambda/shared/.
export const handler = async (): Promise<never> => {
  throw new Error('acm-export: not implemented yet');
};
