# Included after a part's Makefile by regress/run_tests.sh: `make print-REGRESS`.
print-%:
	@echo '$($*)'
