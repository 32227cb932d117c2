// HTML for the development provider's own pages. Every value is escaped.

export function escapeHtml(value) {
  return String(value ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const STYLE = `
  * { box-sizing: border-box; }
  body { margin: 0; min-height: 100vh; display: grid; place-items: center;
         font-family: system-ui, -apple-system, "Segoe UI", sans-serif; background: #f4f4f8; color: #1d1d2c; }
  main { width: min(380px, 92vw); background: #fff; border-radius: 16px; padding: 32px;
         box-shadow: 0 8px 30px rgba(40, 30, 90, .08); }
  .brand { font-weight: 700; color: #5d34f2; letter-spacing: .02em; margin-bottom: 20px; }
  h1 { font-size: 22px; margin: 0 0 6px; }
  p { color: #5c5c70; line-height: 1.45; margin: 0 0 16px; }
  label { display: block; font-size: 14px; font-weight: 600; margin: 14px 0 6px; }
  input { width: 100%; padding: 11px 12px; border: 1px solid #c9c9d6; border-radius: 8px; font-size: 15px; }
  input:focus { outline: 2px solid #5d34f2; border-color: transparent; }
  button { width: 100%; margin-top: 22px; padding: 12px; border: 0; border-radius: 8px; font-size: 15px;
           font-weight: 600; color: #fff; background: #5d34f2; cursor: pointer; }
  button:hover { background: #4a25d8; }
  .error { background: #fdecec; color: #b3261e; border-radius: 8px; padding: 10px 12px; font-size: 14px; }
  .demo { margin-top: 22px; background: #f1edff; border-radius: 8px; padding: 12px; font-size: 14px; }
  .demo div { margin-top: 6px; }
  .demo code { font-size: 14px; background: #fff; padding: 1px 6px; border-radius: 4px; white-space: nowrap; }
`;

function layout(title, body) {
  return `<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>${escapeHtml(title)}</title>
  <style>${STYLE}</style>
</head>
<body><main><div class="brand">Development provider</div>${body}</main></body>
</html>`;
}

export function signInPage({ uid, clientName, demo, username = '', error = '' }) {
  const hint = demo.map((user) => `
    <div>Username <code>${escapeHtml(user.username)}</code></div>
    <div>Password <code>${escapeHtml(user.password)}</code></div>`).join('');
  return layout('Sign in', `
    <h1>Sign in</h1>
    <p>to continue to ${escapeHtml(clientName)}</p>
    ${error ? `<div class="error" role="alert">${escapeHtml(error)}</div>` : ''}
    <form method="post" action="/interaction/${escapeHtml(uid)}/login">
      <label for="username">Username</label>
      <input id="username" name="username" value="${escapeHtml(username)}" autocomplete="username" required autofocus>
      <label for="password">Password</label>
      <input id="password" name="password" type="password" autocomplete="current-password" required>
      <button type="submit">Sign in</button>
    </form>
    ${hint ? `<div class="demo"><strong>Demo account</strong>${hint}</div>` : ''}`);
}

export function signUpPage({ uid, clientName, username = '', error = '' }) {
  return layout('Create account', `
    <h1>Create account</h1>
    <p>to continue to ${escapeHtml(clientName)}</p>
    ${error ? `<div class="error" role="alert">${escapeHtml(error)}</div>` : ''}
    <form method="post" action="/interaction/${escapeHtml(uid)}/register">
      <label for="username">Username</label>
      <input id="username" name="username" value="${escapeHtml(username)}" autocomplete="username" required autofocus>
      <label for="name">Name</label>
      <input id="name" name="name" autocomplete="name">
      <label for="email">Email</label>
      <input id="email" name="email" type="email" autocomplete="email">
      <label for="password">Password</label>
      <input id="password" name="password" type="password" autocomplete="new-password" minlength="8" required>
      <button type="submit">Create account</button>
    </form>`);
}

// oidc-provider hands us its confirmation form; we submit it at once, as
// Logto signs out without asking.
export function logoutPage(form) {
  return layout('Signing out', `
    <h1>Signing out…</h1>
    ${form}
    <noscript><button type="submit" form="op.logoutForm" name="logout" value="yes">Sign out</button></noscript>
    <script>
      const form = document.getElementById('op.logoutForm');
      const input = document.createElement('input');
      input.type = 'hidden'; input.name = 'logout'; input.value = 'yes';
      form.appendChild(input);
      form.submit();
    </script>`);
}

export function errorPage(title, message) {
  return layout(String(title), `<h1>${escapeHtml(title)}</h1><p>${escapeHtml(message)}</p>`);
}

export function avatarSvg(name) {
  const initials = String(name).slice(0, 2).toUpperCase();
  let hue = 0;
  for (const c of String(name)) hue = (hue * 31 + c.charCodeAt(0)) % 360;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="96" height="96" viewBox="0 0 96 96">
  <rect width="96" height="96" rx="48" fill="hsl(${hue} 70% 55%)"/>
  <text x="48" y="58" font-family="system-ui, sans-serif" font-size="34" font-weight="700"
        fill="#fff" text-anchor="middle">${escapeHtml(initials)}</text>
</svg>`;
}
