// Outbound ids are only known at run time: the SPA shell (wrangler's single-page-application
// fallback) serves this route and the page loads the message in the browser.
export const prerender = false;
