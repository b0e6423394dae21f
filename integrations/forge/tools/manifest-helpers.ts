/**
 * The pieces of the manifest check that need no validator: manifest variables as the Forge CLI
 * resolves them, and the tests of a remote's address, an egress entry and the resource page.
 */

export interface Problem {
  level: 'error' | 'warning';
  /** `forge`: Atlassian's validator; `arkbridge`: this project's rules. */
  source: 'forge' | 'arkbridge';
  message: string;
}

const VARIABLE = /\$\{([a-zA-Z_][a-zA-Z0-9_]*)\}/g;

export type Obj = Record<string, unknown>;

export function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function list(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

export function keyOf(v: unknown): string | undefined {
  return isObj(v) && typeof v['key'] === 'string' ? v['key'] : undefined;
}

/** The manifest's declared variables with their defaults (`undefined`: no default). */
function declaredVariables(manifest: Obj): Map<string, string | undefined> {
  const declared = new Map<string, string | undefined>();
  const env = isObj(manifest['environment']) ? manifest['environment'] : {};
  for (const v of list(env['variables'])) {
    if (typeof v === 'string') {
      declared.set(v, undefined);
    } else if (isObj(v) && typeof v['key'] === 'string') {
      declared.set(v['key'], typeof v['default'] === 'string' ? v['default'] : undefined);
    }
  }
  return declared;
}

/**
 * Replaces `${VAR}` as the Forge CLI does: only declared variables, from the environment or the
 * declared default. Problems are reported rather than thrown, so every one shows at once.
 */
export function interpolate(manifest: Obj, env: Record<string, string | undefined>, problems: Problem[]): Obj {
  const declared = declaredVariables(manifest);
  const reported = new Set<string>();
  const walk = (value: unknown): unknown => {
    if (typeof value === 'string') {
      return value.replace(VARIABLE, (whole, name: string) => {
        if (!declared.has(name)) {
          if (!reported.has(name)) {
            reported.add(name);
            problems.push({
              level: 'error',
              source: 'arkbridge',
              message: `\${${name}} is used but not declared in environment.variables, so Forge would keep it as literal text`,
            });
          }
          return whole;
        }
        const resolved = env[name] ?? declared.get(name);
        if (resolved === undefined) {
          if (!reported.has(name)) {
            reported.add(name);
            problems.push({
              level: 'error',
              source: 'arkbridge',
              message: `environment variable ${name} is not set (export it before forge deploy, e.g. ${name}=https://arkbridge.example.com)`,
            });
          }
          return whole;
        }
        return resolved;
      });
    }
    if (Array.isArray(value)) {
      return value.map(walk);
    }
    if (isObj(value)) {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v)]));
    }
    return value;
  };
  return walk(manifest) as Obj;
}

/** Whether an egress entry (`host`, `https://host/...`, `*.suffix`) covers `host`. */
export function egressCovers(address: string, host: string): boolean {
  let pattern = address.trim().toLowerCase();
  const scheme = /^(https|wss):\/\//.exec(pattern);
  if (scheme) {
    pattern = pattern.slice(scheme[0].length);
  }
  pattern = pattern.split(/[/:]/, 1)[0] ?? '';
  const h = host.toLowerCase();
  if (pattern.startsWith('*.')) {
    // Forge's wildcards cover subdomains only, never the parent domain itself.
    return h.endsWith(pattern.slice(1)) && h.length > pattern.length - 1;
  }
  return pattern === h;
}

function isPrivateHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost') || h === '::1') {
    return true;
  }
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(h);
  if (!m) {
    return false;
  }
  const [a, b] = [Number(m[1]), Number(m[2])];
  return a === 10 || a === 127 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 169 && b === 254) || a === 0;
}

/** Why a remote's `baseUrl` will not work as arkbridge's address, or `undefined` if it will. */
export function baseUrlProblem(baseUrl: string): string | undefined {
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    return `baseUrl ${JSON.stringify(baseUrl)} is not a URL`;
  }
  if (url.protocol !== 'https:') {
    return `baseUrl ${baseUrl} must use https (Forge Remote calls are HTTPS only)`;
  }
  if (url.username || url.password) {
    return `baseUrl ${baseUrl} must not hold credentials`;
  }
  if (url.pathname !== '/' || url.search || url.hash) {
    // invokeRemote resolves the macro's absolute paths (/api/v1/...) against baseUrl by the URL
    // Standard's rules, which would drop a path prefix.
    return `baseUrl ${baseUrl} must be an origin without a path, query or fragment`;
  }
  if (isPrivateHost(url.hostname)) {
    return `baseUrl ${baseUrl} names a loopback or private address, which Forge cannot reach`;
  }
  return undefined;
}

/** Problems in the resource page that Forge's CSP (scripts and styles from the app only) would break. */
export function pageProblems(html: string): string[] {
  const found: string[] = [];
  if (/<script\b(?![^>]*\bsrc\s*=)[^>]*>/i.test(html)) {
    found.push('has an inline <script>, which the Custom UI CSP blocks');
  }
  for (const m of html.matchAll(/<script\b[^>]*\bsrc\s*=\s*["']?([^"'\s>]+)/gi)) {
    if (/^(https?:)?\/\//i.test(m[1] ?? '')) {
      found.push(`loads a script from ${m[1]}, outside the app's own resource`);
    }
  }
  if (/\son[a-z]+\s*=/i.test(html)) {
    found.push('has an inline event handler attribute (on...=), which the Custom UI CSP blocks');
  }
  if (/<style\b/i.test(html) || /\sstyle\s*=/i.test(html)) {
    found.push('has inline styles, which the Custom UI CSP blocks');
  }
  return found;
}
