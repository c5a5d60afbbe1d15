// The `secrets` config section: where the server's age identity lives (created at first start when absent).
import { z } from 'zod';

export const secretsConfigSchema = z.strictObject({
  /** The age identity (private key) that decrypts `*.age` files and `secrets.yaml.age`; default <dataDir>/secrets/age-identity.txt. */
  identityFile: z.string().min(1).regex(/^[^\s'"]+$/, 'must not contain spaces or quotes').optional(),
});
