// A real OpenID Connect provider for Tipline's SSO tests (panva/oidc-provider), on loopback.
// Settings come from the environment: PORT, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI and
// ACCOUNTS, a JSON object {login: {email, email_verified}}. Its development sign-in pages take
// any password for a known login: the test is of Tipline's side of the protocol, not of this
// provider's passwords.
import Provider from 'oidc-provider';

const port = Number(process.env.PORT);
const issuer = `http://127.0.0.1:${port}`;
const accounts = JSON.parse(process.env.ACCOUNTS || '{}');

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: process.env.CLIENT_ID,
      client_secret: process.env.CLIENT_SECRET,
      redirect_uris: [process.env.REDIRECT_URI],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  claims: { openid: ['sub'], email: ['email', 'email_verified'] },
  async findAccount(ctx, id) {
    const account = accounts[id];
    if (!account) return undefined;
    return {
      accountId: id,
      async claims() {
        return { sub: id, email: account.email, email_verified: account.email_verified };
      },
    };
  },
  features: { devInteractions: { enabled: true } },
  cookies: { keys: ['tipline-test-only-cookie-key'] },
});

provider.listen(port, '127.0.0.1', () => {
  console.log(`oidc-provider ready at ${issuer}`);
});
