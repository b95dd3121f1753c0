// Integration ids are only known at run time: the SPA shell (wrangler's single-page-application
// fallback) serves this route and the page reads the integration from this device and the server.
export const prerender = false;
