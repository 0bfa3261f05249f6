import { createTestPrisma, makeOrganization } from '../../testing';
import { ConflictError, InvalidInputError, NotFoundError } from '../errors';
import type { PrismaService } from '../prisma.service';
import { ApiKeyRepository, hashApiKey } from './api-key.repository';
import { OrganizationRepository } from './organization.repository';
import { UserRepository } from './user.repository';

describe(OrganizationRepository.name, () => {
  let prisma: PrismaService;
  let users: UserRepository;
  let apiKeys: ApiKeyRepository;
  let sut: OrganizationRepository;

  beforeAll(() => {
    prisma = createTestPrisma();
    users = new UserRepository(prisma);
    apiKeys = new ApiKeyRepository(prisma);
    sut = new OrganizationRepository(prisma, users, apiKeys);
  });
  afterAll(() => prisma.$disconnect());

  it('creates the organization, its owner and an owner key; only the key hash is stored', async () => {
    const created = await sut.createWithOwner({ name: 'Acme', ownerEmail: 'Owner@Acme.test' });
    expect(created.user).toMatchObject({ email: 'owner@acme.test', role: 'owner', organizationId: created.organization.id });
    expect(created.apiKey).toMatchObject({ role: 'owner', prefix: created.key.slice(0, 12) });
    const stored = await prisma.apiKey.findUniqueOrThrow({ where: { id: created.apiKey.id } });
    expect(stored.keyHash).toBe(hashApiKey(created.key));
    expect(JSON.stringify(stored)).not.toContain(created.key);
    expect((await apiKeys.findActiveByKey(created.key))?.organizationId).toBe(created.organization.id);
  });

  it('creates nothing when a part fails: the owner is refused after the organization row was written', async () => {
    const name = `Broken ${Date.now()}`;
    await expect(sut.createWithOwner({ name, ownerEmail: '' })).rejects.toBeInstanceOf(InvalidInputError);
    expect(await prisma.organization.count({ where: { name } })).toBe(0);
    await expect(sut.createWithOwner({ name: '  ', ownerEmail: 'a@b.test' })).rejects.toBeInstanceOf(InvalidInputError);
  });

  it("gives keys only to the organization's own users, and deleting a user revokes their keys", async () => {
    const { organization, user, key } = await sut.createWithOwner({ name: 'Revoke', ownerEmail: 'r@revoke.test' });
    const other = await makeOrganization(prisma);
    await expect(apiKeys.create(other.id, { name: 'stolen', role: 'admin', userId: user.id })).rejects.toBeInstanceOf(NotFoundError);
    expect(await apiKeys.findActiveByKey(key)).not.toBeNull();
    expect(await users.delete(organization.id, user.id)).toBe(true);
    expect(await apiKeys.findActiveByKey(key)).toBeNull();
    expect(await apiKeys.findById(organization.id, 'not-a-uuid')).toBeNull();
    await expect(apiKeys.revoke(organization.id, 'not-a-uuid')).rejects.toBeInstanceOf(NotFoundError);
  });

  it('revoked and unknown keys do not authenticate', async () => {
    const { organization, key, apiKey } = await sut.createWithOwner({ name: 'Keys', ownerEmail: 'k@keys.test' });
    const extra = await apiKeys.create(organization.id, { name: 'ci', role: 'viewer' });
    await apiKeys.revoke(organization.id, extra.apiKey.id);
    expect(await apiKeys.findActiveByKey(extra.key)).toBeNull();
    expect(await apiKeys.findActiveByKey(key.slice(0, -1) + (key.endsWith('a') ? 'b' : 'a'))).toBeNull();
    expect(await apiKeys.findActiveByKey('not-a-key')).toBeNull();
    const other = await makeOrganization(prisma);
    await expect(apiKeys.revoke(other.id, apiKey.id)).rejects.toBeInstanceOf(NotFoundError);
    expect(await apiKeys.findActiveByKey(key)).not.toBeNull();
    const page = await apiKeys.listPage(organization.id);
    expect(page.data.map((k) => k.name)).toEqual(['owner', 'ci']);
    expect(page.data[1].revokedAt).toBeInstanceOf(Date);
  });
});

describe(UserRepository.name, () => {
  let prisma: PrismaService;
  let sut: UserRepository;

  beforeAll(() => {
    prisma = createTestPrisma();
    sut = new UserRepository(prisma);
  });
  afterAll(() => prisma.$disconnect());

  it('keeps email and externalId unique within an organization, not across organizations', async () => {
    const a = await makeOrganization(prisma);
    const b = await makeOrganization(prisma);
    await sut.create(a.id, { email: 'same@example.test', externalId: 'u-1' });
    await expect(sut.create(a.id, { email: 'SAME@example.test' })).rejects.toBeInstanceOf(ConflictError);
    await expect(sut.create(a.id, { externalId: 'u-1' })).rejects.toBeInstanceOf(ConflictError);
    await expect(sut.create(b.id, { email: 'same@example.test', externalId: 'u-1' })).resolves.toMatchObject({ organizationId: b.id });
    await expect(sut.create(a.id, {})).rejects.toBeInstanceOf(InvalidInputError);
  });

  it("reads, updates and deletes only within the caller's organization", async () => {
    const a = await makeOrganization(prisma);
    const b = await makeOrganization(prisma);
    const user = await sut.create(a.id, { externalId: 'end-user-7', name: 'Seven' });
    expect(await sut.findById(b.id, user.id)).toBeNull();
    expect(await sut.update(b.id, user.id, { name: 'hijacked' })).toBeNull();
    expect(await sut.delete(b.id, user.id)).toBe(false);
    expect(await sut.findByExternalId(a.id, 'end-user-7')).toMatchObject({ name: 'Seven' });
    expect(await sut.update(a.id, user.id, { name: 'Renamed', role: 'viewer' })).toMatchObject({ name: 'Renamed', role: 'viewer' });
    await expect(sut.update(a.id, user.id, { externalId: null })).rejects.toBeInstanceOf(InvalidInputError);
    expect(await sut.delete(a.id, user.id)).toBe(true);
    expect(await sut.findById(a.id, user.id)).toBeNull();
  });
});
