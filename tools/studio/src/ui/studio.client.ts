// The page the Studio server serves: Prisma's embeddable Studio (@prisma/studio-core) on its PostgreSQL adapter,
// which sends every statement to this page's own server (POST api/query, the "BFF" contract of studio-core).
// Bundled for the browser by ui-bundle.ts; nothing here runs in Node.
import { createElement } from 'react';
import { createRoot } from 'react-dom/client';
import { Studio } from '@prisma/studio-core/ui';
import { createStudioBFFClient } from '@prisma/studio-core/data/bff';
import { createPostgresAdapter } from '@prisma/studio-core/data/postgres-core';
import '@prisma/studio-core/ui/index.css';
import './studio-page.css';

// Studio reports a launch to Prisma's telemetry server unless CHECKPOINT_DISABLE is '1'; in a browser it reads
// that from the page's globals. This page talks to nothing but its own server (the server's Content-Security-
// Policy blocks any other address as well).
(globalThis as { CHECKPOINT_DISABLE?: string }).CHECKPOINT_DISABLE = '1';

const executor = createStudioBFFClient({ url: new URL('api/query', window.location.href) });
const adapter = createPostgresAdapter({ executor });

const root = document.getElementById('studio');
if (!root) throw new Error('AgentHub Studio: the page has no #studio element');
createRoot(root).render(createElement(Studio, { adapter }));
