-- CreateIndex
CREATE INDEX "documents_title_idx" ON "documents" USING HASH ("title");
