// The secrets module: GET /api/v1/secrets/recipient, the public age recipient(s) that `*.age` files and
// `secrets.yaml.age` must be encrypted for (what `scripts/encrypt-secret.ts` and a CLI read). Never the identity.
import { requireScope } from '../http/middleware/auth.js';
import { Router } from 'express';
import type { AppModule } from '../module.js';
import { identityFileOf, recipientsOf } from './secrets.js';

export function createSecretsModule(): AppModule {
  return {
    name: 'secrets',
    apiRoutes: (ctx) => {
      const r = Router();
      r.get('/secrets/recipient', requireScope('read'), async (_req, res) => {
        const recipients = await recipientsOf(identityFileOf(ctx.config));
        res.json({ recipient: recipients[0], recipients });
      });
      return r;
    },
  };
}
