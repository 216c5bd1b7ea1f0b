/** Imported first by the webview's entry point: marks when its bundle starts to run, before any other module's code. */
performance.mark('the script starts');
