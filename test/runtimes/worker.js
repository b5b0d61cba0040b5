// The Cloudflare Worker of the README, as a user deploys it (served by workerd in the tests).
import { createPurifyHandler, RUNTIME_LIMITS } from "./cnn-purify.js";

const purify = createPurifyHandler(RUNTIME_LIMITS.cloudflare);

export default {
  fetch: (request) => purify(request),
};
