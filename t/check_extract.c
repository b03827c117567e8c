/* quire: durable document ingestion and search on one Unix box. ISC license. */

int
main(void)
{
	return (77);
}
