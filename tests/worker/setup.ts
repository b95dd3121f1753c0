import { applyD1Migrations, env } from 'cloudflare:test';

// The schema comes from the repo's migrations only (STYLE §8); applying is idempotent.
await applyD1Migrations(env.DB, env.TEST_MIGRATIONS);
