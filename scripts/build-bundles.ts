/** `npm run build:bundles`: writes dist/bundles/{cpu,io}.js, the workflow bundles the workers load (see harness/bundles.ts). */
import { buildBundles } from '../harness/bundles';

buildBundles().then(
  (files) => console.log(`workflow bundles: ${files.join(', ')}`),
  (err: unknown) => {
    console.error(`bundle build failed: ${(err as Error).message}`);
    process.exit(1);
  },
);
