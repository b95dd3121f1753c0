export interface RouteContext {
	request: Request;
	env: Env;
	params: Record<string, string>;
	/** The clock, injectable for tests. */
	now: () => Date;
}

export type Handler = (context: RouteContext) => Promise<Response>;
