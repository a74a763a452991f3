package dev.fflama;

import java.util.concurrent.Executor;
import java.util.concurrent.Flow;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;

/** A cold publisher: each subscription runs one generation on the executor, paced by demand. */
final class TokenPublisher implements Flow.Publisher<Token> {
    private final Supplier<TokenStream> start;
    private final Executor executor;

    TokenPublisher(Supplier<TokenStream> start, Executor executor) {
        this.start = start;
        this.executor = executor;
    }

    @Override
    public void subscribe(Flow.Subscriber<? super Token> subscriber) {
        Subscription s = new Subscription(subscriber);
        subscriber.onSubscribe(s);
        executor.execute(s::run);
    }

    private final class Subscription implements Flow.Subscription {
        private final Flow.Subscriber<? super Token> subscriber;
        private final AtomicBoolean cancelled = new AtomicBoolean();
        private long demand;
        private Thread worker;

        Subscription(Flow.Subscriber<? super Token> subscriber) {
            this.subscriber = subscriber;
        }

        @Override
        public synchronized void request(long n) {
            if (n <= 0) {
                cancel();
                subscriber.onError(new IllegalArgumentException("request must be positive (rule 3.9)"));
                return;
            }
            demand = demand + n < 0 ? Long.MAX_VALUE : demand + n;
            notifyAll();
        }

        @Override
        public void cancel() {
            if (cancelled.compareAndSet(false, true)) {
                Thread w;
                synchronized (this) {
                    w = worker;
                    notifyAll();
                }
                if (w != null) w.interrupt(); // stops a running evaluation between layers
            }
        }

        private synchronized boolean awaitDemand() throws InterruptedException {
            while (demand == 0 && !cancelled.get()) wait();
            if (cancelled.get()) return false;
            demand--;
            return true;
        }

        void run() {
            synchronized (this) {
                worker = Thread.currentThread();
            }
            try (TokenStream tokens = start.get()) {
                while (!cancelled.get() && tokens.hasNext()) {
                    Token t = tokens.next();
                    if (!awaitDemand()) return;
                    subscriber.onNext(t);
                }
                if (!cancelled.get()) subscriber.onComplete();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } catch (Throwable t) {
                if (!cancelled.get()) subscriber.onError(t);
            } finally {
                synchronized (this) {
                    worker = null;
                }
                Thread.interrupted(); // do not leak our cancellation interrupt into the executor's thread
            }
        }
    }
}
