// Browser-only app: every page is a prerendered shell that renders on the client.
export const ssr = false;
export const prerender = true;
export const trailingSlash = 'never';
