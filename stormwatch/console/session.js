// Who is signed in (GET /api/v1/whoami): the views offer only the changes the token's role allows.
// The API still decides every request; this only spares people buttons that would be refused.

let current = { name: '', role: '', capabilities: [] };

export const session = {
  set: (who) => { current = who; },
  name: () => current.name,
  role: () => current.role,
  can: (capability) => current.capabilities.includes(capability),
};

// What the sign-in says for each reason the API gives when it refuses a token (never more than the reason).
export const REFUSALS = {
  no_tokens_configured: 'This server has no API tokens configured, so it accepts none. Whoever runs it sets '
    + 'STORMWATCH_API_TOKENS (`stormwatch tokens create NAME --role respond` prints an entry) and restarts it.',
  unknown_token: 'This server does not know that token. Check that it was copied whole and that it is in the '
    + "server's STORMWATCH_API_TOKENS.",
  role: "That token's role may not read incidents (an ingest token); sign in with a read, respond or admin token.",
  missing_token: 'Paste a token to sign in.',
  malformed: 'That is not a token.',
  too_many_failures: 'Too many wrong tokens came from this address. Wait a minute, then sign in with a right one '
    + '(a right token is never refused).',
};

export function refusal(reason) {
  return REFUSALS[reason] || 'The server refused that token.';
}
