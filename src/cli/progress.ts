/** Progress lines with the elapsed time, on stderr so stdout stays parseable. */
export function progressPrinter(stream: NodeJS.WriteStream = process.stderr): (message: string) => void {
  const start = Date.now();
  return (message: string) => {
    const s = ((Date.now() - start) / 1000).toFixed(1).padStart(6);
    stream.write(`[${s}s] ${message}\n`);
  };
}
