// The Cloudflare Worker a user deploys: the README's snippet, served by workerd in the tests.
import { createPurifyHandler } from "./cnn-purify.js";

const purify = createPurifyHandler();

export default {
  fetch: (request) => purify(request),
};
