import { describe, expect, it } from 'vitest';
import { createTestServer } from './helpers/tsa.js';

describe('server smoke', () => {
  it('answers /ping', async () => {
    const { app } = await createTestServer();
    const response = await app.inject({ method: 'GET', url: '/ping' });
    expect(response.statusCode).toBe(200);
    expect(response.body).toBe('.');
  });
});
