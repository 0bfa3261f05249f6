-- Hand-written: prefix and key compare as bytes (namespace prefix search and listing do not depend on the
-- database locale), set in the CREATE TABLEs so that both ends of the foreign key agree.
-- CreateTable
CREATE TABLE "langgraph_store_items" (
    "organization_id" UUID NOT NULL,
    "prefix" TEXT COLLATE "C" NOT NULL,
    "key" TEXT COLLATE "C" NOT NULL,
    "value" JSONB NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expires_at" TIMESTAMPTZ(3),
    "ttl_minutes" DOUBLE PRECISION,
    "seq" BIGSERIAL NOT NULL,

    CONSTRAINT "langgraph_store_items_pkey" PRIMARY KEY ("organization_id","prefix","key")
);

-- CreateTable
CREATE TABLE "langgraph_store_vectors" (
    "organization_id" UUID NOT NULL,
    "prefix" TEXT COLLATE "C" NOT NULL,
    "key" TEXT COLLATE "C" NOT NULL,
    "field" TEXT NOT NULL,
    "embedding" vector NOT NULL,

    CONSTRAINT "langgraph_store_vectors_pkey" PRIMARY KEY ("organization_id","prefix","key","field")
);

-- CreateIndex
CREATE INDEX "langgraph_store_items_expires_at_idx" ON "langgraph_store_items"("expires_at");

-- AddForeignKey
ALTER TABLE "langgraph_store_items" ADD CONSTRAINT "langgraph_store_items_organization_id_fkey" FOREIGN KEY ("organization_id") REFERENCES "organizations"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "langgraph_store_vectors" ADD CONSTRAINT "langgraph_store_vectors_organization_id_prefix_key_fkey" FOREIGN KEY ("organization_id", "prefix", "key") REFERENCES "langgraph_store_items"("organization_id", "prefix", "key") ON DELETE CASCADE ON UPDATE CASCADE;

-- Hand-written: row-level security, as on every tenant table.
ALTER TABLE "langgraph_store_items" ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON "langgraph_store_items" USING (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid);
ALTER TABLE "langgraph_store_vectors" ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON "langgraph_store_vectors" USING (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid);
